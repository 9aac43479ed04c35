"""HTTP and WebSocket edge: thin Litestar controllers, one module per contract resource."""
