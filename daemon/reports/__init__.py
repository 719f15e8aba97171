"""Reports for people (Markdown, self-contained HTML with inline SVG plots) and machines (JSON)."""
