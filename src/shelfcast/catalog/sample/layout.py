"""BookScan's export layout, as the sample catalogue writes it: the category sheets, the
columns of a weekly sales row (`Source` names the sheet) and of the title list."""

from __future__ import annotations

SHEETS = {
    "F": "F Adult Fiction",
    "S": "S Adult Non-Fiction Specialist",
    "T": "T Adult Non-Fiction Trade",
    "Y": "Y Children's, YA & Educational",
}
COLUMNS = [
    "ISBN",
    "Title",
    "Author",
    "Interval",
    "End Date",
    "Volume",
    "Value",
    "ASP",
    "RRP",
    "Binding",
    "Imprint",
    "Publisher Group",
    "Product Class",
    "Source",
]
METADATA_COLUMNS = [
    "ISBN",
    "Title",
    "Author",
    "Binding",
    "Imprint",
    "Publisher Group",
    "Product Class",
    "RRP",
    "Publication Date",
]
