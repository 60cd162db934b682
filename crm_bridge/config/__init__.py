"""A council's configuration: one YAML file, validated, cross-checked, located errors."""

from crm_bridge.config.loader import LoadedConfig, load_config
from crm_bridge.config.schema import CouncilConfig

__all__ = ["CouncilConfig", "LoadedConfig", "load_config"]
