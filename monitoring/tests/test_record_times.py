"""A record's times lie from 2000 to 2099, judged as instants whatever the offset they are written with."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import SimpleTestCase

from monitoring.schemas import RecordError, parse_record
from monitoring.tests.factories import usage

OUT_OF_RANGE = "须在2000年至2099年之间"


class RecordTimesTests(SimpleTestCase):
    def test_it_accepts_exactly_the_instants_from_2000_to_2099_in_any_offset(self) -> None:
        moments = [
            "1999-12-31T23:59:59.999999+00:00",
            "2000-01-01T00:00:00+00:00",
            "2000-01-01T07:59:59+08:00",
            "2000-01-01T08:00:00+08:00",
            "1999-12-31T19:00:00-05:00",
            "1999-12-31T18:59:59-05:00",
            "2001-01-01T00:00:00+23:59",
            "2098-12-31T23:59:59-23:59",
            "2099-12-31T23:59:59.999999+00:00",
            "2100-01-01T00:00:00+00:00",
            "2100-01-01T05:00:00+08:00",
            "2099-12-31T20:00:00-05:00",
            "2099-12-31T18:59:59-05:00",
        ]
        for text in moments:
            with self.subTest(text):
                instant = datetime.fromisoformat(text).astimezone(UTC)
                inside = datetime(2000, 1, 1, tzinfo=UTC) <= instant < datetime(2100, 1, 1, tzinfo=UTC)
                record = usage(started_at=text)
                try:
                    fields = parse_record(record, require_signature=False)
                except RecordError as error:
                    self.assertFalse(inside)
                    self.assertIn(OUT_OF_RANGE, error.reason)
                else:
                    self.assertTrue(inside)
                    self.assertEqual(fields.started_at, datetime.fromisoformat(text))
