"""REST routes and health, on Starlette."""
