"""Grid carbon intensity: where a run happened, and how carbon-intensive its electricity was."""

from .static import Location, all_regions, all_zones, check_intensity, intensity_in_range, resolve_location

__all__ = ["Location", "all_regions", "all_zones", "check_intensity", "intensity_in_range", "resolve_location"]
