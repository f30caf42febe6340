"""Everything that touches bytes on disk: decoding media files, tables, caches."""
