"""Drawing: flows as DOT, SVG, PNG and Mermaid, built from one drawing model."""
