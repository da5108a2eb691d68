"""The catalog of industries, role templates and tools that ships with the platform."""
