"""Everything that touches bytes on disk: image and video decoding, score tables, motion-feature
files, durable writes."""
