"""The ToolHive API (``/api/v1beta``) served on Hangar's own model: a controller per area, each
thin (parse, one command or query, shape to ToolHive's schema); errors in ToolHive's bodies."""
