"""An action's stored files are removed when the action fails (core.uploads.stored_files)."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.test import TestCase

from core.filetypes import DOCUMENT_TYPES
from core.uploads import check_upload, stored_files
from testing.fixtures import png_bytes, upload


class Refused(Exception):
    pass


class StoredFilesTests(TestCase):
    def test_it_removes_the_files_of_an_action_that_was_refused(self) -> None:
        checked = check_upload(upload("现场.png", png_bytes()), DOCUMENT_TYPES)
        paths: list[str] = []
        with self.assertRaises(Refused), stored_files() as files, transaction.atomic():
            paths.append(files.save("site_checks", checked))
            paths.append(files.save("site_checks", checked))
            self.assertTrue(all(default_storage.exists(p) for p in paths))
            raise Refused
        self.assertEqual([default_storage.exists(p) for p in paths], [False, False])

    def test_it_keeps_the_files_of_an_action_that_succeeded_under_generated_names(self) -> None:
        checked = check_upload(upload("../../etc/现场.png", png_bytes()), DOCUMENT_TYPES)
        with stored_files() as files, transaction.atomic():
            path = files.save("site_checks", checked)
        self.assertTrue(default_storage.exists(path))
        self.assertTrue(path.startswith("site_checks/") and path.endswith(".png"))
        self.assertNotIn("现场", path)
