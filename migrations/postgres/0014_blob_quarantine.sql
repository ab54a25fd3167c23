-- Content `berth storage verify --quarantine` moved aside because it no longer
-- matched its digest: treated as absent (pulls say BLOB_UNKNOWN, pushes store
-- it again, which clears the mark).
ALTER TABLE blobs ADD COLUMN quarantined_at TIMESTAMPTZ;
