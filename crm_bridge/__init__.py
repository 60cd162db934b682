"""crm-bridge: elected members' caseload management, bridged onto the council's CRM."""

__version__ = "0.1.0"
__all__ = ["__version__"]
