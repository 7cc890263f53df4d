"""Renderers: read `Run`s and `Diagnosis` objects, never compute statistics."""
