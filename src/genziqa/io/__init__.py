"""Everything that touches bytes on disk: image decoding, score tables, durable writes."""
