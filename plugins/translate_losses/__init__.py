"""Built-in losses (placeholder module until filled)."""
