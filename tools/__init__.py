"""Developer tools of the repository: code generation from the collector registry."""
