-- Issue 15: what each input file's stat was when its bytes were last hashed, so a rerun skips a file whose
-- size, mtime and inode are unchanged without reading it (as git's index does). NULL stat: hash next time.
-- `hash_salt` is the source's settings fingerprint the hash was taken with (a new one means re-hash).

ALTER TABLE source_files ADD COLUMN mtime_ns BIGINT;
ALTER TABLE source_files ADD COLUMN inode UBIGINT;
ALTER TABLE source_files ADD COLUMN hash_salt VARCHAR;
