"""The portal's routes, one module per page (or group of pages); ``api`` is the JSON API."""

__all__: list[str] = []
