"""Drawing: flows and flow diffs as DOT, SVG, PNG and Mermaid, built from one drawing model."""
