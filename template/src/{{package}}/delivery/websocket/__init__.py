"""The real-time layer: endpoint, hub, client pumps, router and the wire protocol."""
