"""CRM connectors, one module per CRM, behind the protocol in connectors.base."""
