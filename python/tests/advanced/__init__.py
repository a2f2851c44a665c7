"""Unit tests of the advanced track: the StaticSite controller."""
