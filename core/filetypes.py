"""The file types the platform accepts, and the size of a table it reads (docs/security.md)."""

from __future__ import annotations

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OFD = "application/ofd"  # GB/T 33190 版式文档: a zip with OFD.xml at its root
DOCUMENT_TYPES = frozenset({PDF, OFD, JPEG, PNG})
TABLE_TYPES = frozenset({CSV, XLSX})
# Vendor usage exports: a JSON document or JSON lines (docs/usage-formats.md).
JSON = "application/json"
USAGE_TYPES = TABLE_TYPES | {JSON}
EXTENSIONS = {PDF: "pdf", OFD: "ofd", JPEG: "jpg", PNG: "png", CSV: "csv", XLSX: "xlsx", JSON: "json"}
TYPE_LABELS = {PDF: "PDF", OFD: "OFD", JPEG: "JPEG", PNG: "PNG", CSV: "CSV", XLSX: "XLSX", JSON: "JSON"}
# Entries an OFD package may list (its pages, resources and seals are a few hundred).
OFD_MAX_ENTRIES = 10_000

# A table (CSV, or any sheet of an XLSX) may have this many rows, header and blank rows
# included, and this many columns; the consumption detail allows 50,000 data rows.
TABLE_MAX_ROWS = 60_000
TABLE_MAX_COLUMNS = 64
