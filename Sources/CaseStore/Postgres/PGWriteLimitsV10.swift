/// Migration `pg-v10-write-limits`: what one rater can make everyone else store and load.
///
/// Masks reach the database as PNG bytes with a declared size; the functions checked the
/// declared size against the image, but nothing checked the PNG itself, so a rater calling
/// `annotate` from `psql` could store a mask that says 120×120 and decodes to thousands of
/// pixels a side, which every colleague's review app, export and agreement report then
/// decodes. Notes and reasons had no limit, in append-only tables no one may clean.
///
/// Now, as CHECK constraints (so every path that writes, function or owner, is held to them):
/// a mask's bytes are a PNG whose header (IHDR) states exactly the row's width and height,
/// and are at most 8 bytes per pixel (plus 64 KiB); a note or reason is at most
/// `TextLimits.maxBytes` bytes. `NOT VALID`: rows written before are not re-checked (the
/// readers' decoders bound what they allocate by the row's size as well).
enum PGWriteLimitsV10 {
  static let id = "pg-v10-write-limits"

  static let publicFunctions: [String] = []

  static var sql: String {
    #"""
    CREATE FUNCTION png_header_ok(p bytea, w integer, h integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE SET search_path = blastview, pg_temp AS $$
      SELECT octet_length(p) >= 33
        AND substring(p FROM 1 FOR 16) = '\x89504e470d0a1a0a0000000d49484452'::bytea
        AND ((get_byte(p, 16)::bigint << 24) | (get_byte(p, 17)::bigint << 16)
             | (get_byte(p, 18)::bigint << 8) | get_byte(p, 19)::bigint) = w
        AND ((get_byte(p, 20)::bigint << 24) | (get_byte(p, 21)::bigint << 16)
             | (get_byte(p, 22)::bigint << 8) | get_byte(p, 23)::bigint) = h
        AND octet_length(p) <= 8 * h::bigint * (w::bigint + 1) + 65536
    $$;
    ALTER TABLE mask ADD CONSTRAINT mask_png_matches_size CHECK (png_header_ok(png, width, height)) NOT VALID;
    ALTER TABLE annotation ADD CONSTRAINT annotation_note_length
      CHECK (octet_length(note) <= \#(TextLimits.maxBytes)) NOT VALID;
    ALTER TABLE adjudication ADD CONSTRAINT adjudication_reason_length
      CHECK (octet_length(reason) <= \#(TextLimits.maxBytes)) NOT VALID;
    """#
  }
}
