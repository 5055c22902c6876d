"""Page and API modules; each module that defines `router` is included by `create_app`."""
