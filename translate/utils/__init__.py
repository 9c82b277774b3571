"""Small helpers that hold no translate concept of their own.

- :mod:`~translate.utils.atomic`: files written atomically (a temporary sibling, then a rename);
- :mod:`~translate.utils.disk`: sizes in human units, recognising a full disk;
- :mod:`~translate.utils.markdown`: escaping text for Markdown tables and cards.

Imports nothing of translate; every package may import it.
"""
