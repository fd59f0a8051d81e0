"""The history export use case and its one file format, with in-memory fakes."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcore.domain.access import Actor
from promptcore.domain.errors import ValidationFailed
from promptcore.domain.prompts import PromptRecord, RecordStatus
from promptcore.services.exports import (
    CHUNK_CHARS,
    EXPORT_FIELDS,
    HistoryExport,
    csv_chunks,
    export_row,
    json_chunks,
    read_export,
)
from tests.fakes import FakeClock, FakeStore, FakeUnitOfWork

T0 = datetime(2031, 3, 4, 9, 30, tzinfo=timezone.utc)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def record(i: int, **fields) -> PromptRecord:
    values = dict(user_id=1, original_prompt=f"prompt {i}", style="general", model="offline",
                  status=RecordStatus.SUCCEEDED, generated_prompt=f"improved {i}", latency_ms=i,
                  created_at=T0 + timedelta(minutes=i // 3))
    values.update(fields)
    return PromptRecord(**values)


class CountingUnitOfWork(FakeUnitOfWork):
    opened = 0

    def __enter__(self):
        type(self).opened += 1
        return super().__enter__()


def exporter(store: FakeStore, batch_size: int, clock: FakeClock | None = None) -> HistoryExport:
    return HistoryExport(lambda: CountingUnitOfWork(store), clock or FakeClock(T0), batch_size=batch_size)


def seeded(count: int, user_id: int = 1) -> tuple[FakeStore, list[int]]:
    store = FakeStore()
    with FakeUnitOfWork(store) as uow:
        ids = [uow.prompts.add(record(i, user_id=user_id)).id for i in range(count)]
        uow.prompts.add(record(99, user_id=user_id + 1))  # someone else's
        uow.prompts.add(record(98, user_id=user_id, status=RecordStatus.FAILED))
        uow.commit()
    return store, ids


@pytest.mark.parametrize("count,batch", [(0, 3), (1, 3), (3, 3), (7, 3), (7, 1), (7, 100)])
def test_batches_give_every_record_once_newest_first_and_never_commit(count, batch):
    store, ids = seeded(count)
    CountingUnitOfWork.opened = 0
    records = list(exporter(store, batch).records(Actor(1)))
    expected = sorted(ids, key=lambda i: (store.prompts[i].created_at, i), reverse=True)
    assert [r.id for r in records] == expected
    assert CountingUnitOfWork.opened == count // batch + 1  # one short transaction per batch
    assert all(r.status is RecordStatus.SUCCEEDED and r.user_id == 1 for r in records)


def test_the_download_reads_nothing_until_its_chunks_are_read_and_is_named_by_the_clock():
    store, _ids = seeded(4)
    CountingUnitOfWork.opened = 0
    download = exporter(store, 2, FakeClock(datetime(2030, 12, 31, 23, 59, tzinfo=timezone.utc))).download(
        Actor(1), "csv")
    assert CountingUnitOfWork.opened == 0
    assert download.filename == "promptcore-history-20301231.csv"
    assert download.media_type == "text/csv; charset=utf-8"
    assert len(read_export("".join(download.chunks), "csv")) == 4
    with pytest.raises(ValidationFailed):
        exporter(store, 2).download(Actor(1), "xml")


def test_chunks_are_bounded_and_follow_the_batches():
    big = [record(i, original_prompt="x" * 10_000) for i in range(9)]
    chunks = list(csv_chunks([big[:4], big[4:]]))
    assert len(chunks) >= 3 and all(len(c) < CHUNK_CHARS + 25_000 for c in chunks)
    assert [len(read_export("".join(chunks), "csv"))] == [9]
    assert "".join(json_chunks([])) == "[\n]\n" and read_export("".join(json_chunks([])), "json") == []


@settings(max_examples=200, deadline=None)
@given(original=texts.filter(bool), generated=texts.filter(bool), feedback=st.none() | texts.filter(bool),
       model=st.none() | texts.filter(bool), parent=st.none() | st.integers(1, 10**9),
       latency=st.none() | st.integers(0, 10**6),
       usage=st.none() | st.dictionaries(texts, st.integers() | st.floats(allow_nan=False) | texts, max_size=3))
def test_both_formats_read_back_to_exactly_what_was_exported(original, generated, feedback, model, parent,
                                                             latency, usage):
    exported = record(1, original_prompt=original, generated_prompt=generated, feedback=feedback, model=model,
                      parent_id=parent, latency_ms=latency, usage=usage, id=7)
    expected = [export_row(exported)]
    assert list(expected[0]) == list(EXPORT_FIELDS)
    assert read_export("".join(json_chunks([[exported]])), "json") == expected
    assert read_export("".join(csv_chunks([[exported]])), "csv") == expected


@given(text=texts)
def test_no_csv_cell_starts_like_a_formula(text):
    exported = record(1, original_prompt=text or "x", feedback=text or None, id=1)
    data = "".join(csv_chunks([[exported]]))
    for row in csv.reader(io.StringIO(data.removeprefix("\ufeff"), newline="")):
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_a_file_that_is_not_an_export_is_refused():
    for data, fmt in (("{}", "json"), ("a,b\n1,2\n", "csv"), ("", "csv"), ("[]", "xml")):
        with pytest.raises(ValueError):
            read_export(data, fmt)
