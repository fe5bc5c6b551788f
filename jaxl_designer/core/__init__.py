"""The core: what a flow is and what a call does (standard library and networkx only)."""
