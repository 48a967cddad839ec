"""The schema, declared as SQLModel tables.

These classes are the documented shape of a node's database. Migrations
(`villagebook.store.migrations`) are frozen SQL steps; a test checks that the
database they build has exactly these tables and columns, so the two cannot
drift apart. Hot paths read and write through plain `sqlite3` (importing
SQLAlchemy costs half a second of start-up on an old laptop), so nothing at run
time imports this module except tools and tests.

Projection tables (`unit` … `score`) hold the current state, recomputed from
the change records; their columns mirror `villagebook.domain.fields`. They have
no foreign keys on purpose: records from different bundles may arrive in any
order, and a follow-up can legitimately arrive before its problem.
"""

from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Node(SQLModel, table=True):
    """This laptop's identity: exactly one row (id = 1)."""

    id: int = Field(primary_key=True)
    device_id: str
    unit_code: str
    role: str
    hlc: int = 0
    created_at: str


class Setting(SQLModel, table=True):
    """Local settings (language, last export…), never synced; values are JSON."""

    key: str = Field(primary_key=True)
    value: str


class ChangeSet(SQLModel, table=True):
    """The field changes of one write of one record: the unit of storage and sync.

    `seq` is this node's local arrival order (for export), not part of the data.
    `fields` is a JSON object of field → new value; `replaces` a JSON object of
    field → ids of the changes of that field the writer saw as current. A field
    change's id is `<set_id>-<field>`.
    """

    __tablename__ = "change_set"
    __table_args__ = (Index("ix_change_set_record", "entity", "record_id"),)
    seq: int | None = Field(default=None, primary_key=True)
    set_id: str = Field(unique=True)
    entity: str
    record_id: str
    hlc: int
    device_id: str
    unit: str
    fields: str
    replaces: str


class Conflict(SQLModel, table=True):
    """Fields with two or more heads: concurrent edits waiting for a person."""

    entity: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    field: str = Field(primary_key=True)


class Unit(SQLModel, table=True):
    """An innovation unit, township or district."""

    code: str = Field(primary_key=True)
    name: str | None = None
    kind: str | None = None
    parent_code: str | None = Field(default=None, index=True)
    updated_hlc: int = 0


class InnovationCase(SQLModel, table=True):
    """创新案例. List fields are JSON arrays of codes or ids."""

    __tablename__ = "innovation_case"
    id: str = Field(primary_key=True)
    unit_code: str | None = Field(default=None, index=True)
    title: str | None = None
    lead_person: str | None = None
    contact: str | None = None
    start_date: str | None = None
    direction: str | None = None
    aspects: str | None = None
    problem_addressed: str | None = None
    linked_problem_ids: str | None = None
    measures: str | None = None
    results: str | None = None
    public_recognition: str | None = None
    principles: str | None = None
    fault_tolerance: bool | None = None
    fault_tolerance_reason: str | None = None
    status: str | None = None  # indexed with updated_hlc (migrations core-3)
    origin_case_id: str | None = None
    updated_hlc: int = 0


class Problem(SQLModel, table=True):
    """问题台账 entry."""

    id: str = Field(primary_key=True)
    unit_code: str | None = Field(default=None, index=True)
    title: str | None = None
    description: str | None = None
    category: str | None = None
    source: str | None = None
    reported_date: str | None = None
    reporter: str | None = None
    urgency: str | None = None
    responsible_person: str | None = None
    deadline: str | None = Field(default=None, index=True)
    status: str | None = None  # indexed with deadline (migrations core-3)
    resolution: str | None = None
    solved_by_case_id: str | None = None
    updated_hlc: int = 0


class FollowUp(SQLModel, table=True):
    """进展记录: one dated, signed entry of a problem's timeline."""

    id: str = Field(primary_key=True)
    problem_id: str | None = Field(default=None, index=True)
    date: str | None = None
    author: str | None = None
    text: str | None = None
    updated_hlc: int = 0


class Review(SQLModel, table=True):
    """A township's decision on a submitted case."""

    id: str = Field(primary_key=True)
    case_id: str | None = Field(default=None, index=True)
    decision: str | None = None
    comment: str | None = None
    reviewer: str | None = None
    date: str | None = None
    updated_hlc: int = 0


class Score(SQLModel, table=True):
    """A district expert's score of a case."""

    id: str = Field(primary_key=True)
    case_id: str | None = Field(default=None, index=True)
    expert: str | None = None
    score: int | None = None
    comment: str | None = None
    date: str | None = None
    updated_hlc: int = 0


# Evaluation


class Rubric(SQLModel, table=True):
    """The district's weights of the unit score for one period (synced down)."""

    id: str = Field(primary_key=True)
    district_code: str | None = None
    period: str | None = Field(default=None, index=True)
    weight_expert: int | None = None
    weight_approved: int | None = None
    approved_target: int | None = None
    weight_resolved: int | None = None
    overdue_penalty: int | None = None
    top_n: int | None = None
    bottom_n: int | None = None
    updated_hlc: int = 0


class ModelCase(SQLModel, table=True):
    """示范推广: a case the district holds up for other units to adopt."""

    __tablename__ = "model_case"
    id: str = Field(primary_key=True)
    case_id: str | None = Field(default=None, index=True)
    citation: str | None = None
    marked_by: str | None = None
    date: str | None = None
    withdrawn: bool | None = None
    origin_unit: str | None = None
    unit_name: str | None = None
    title: str | None = None
    direction: str | None = None
    aspects: str | None = None
    problem_addressed: str | None = None
    measures: str | None = None
    results: str | None = None
    updated_hlc: int = 0


# Evidence


class Attachment(SQLModel, table=True):
    """A photo or document attached to a case, a problem or a follow-up; its bytes
    are stored once under `HOME/files/<2 hex>/<sha256>`, never in the database."""

    id: str = Field(primary_key=True)
    unit_code: str | None = None
    record_kind: str | None = None
    record_id: str | None = Field(default=None, index=True)
    caption: str | None = None
    kind: str | None = None
    name: str | None = None
    size: int | None = None
    media_type: str | None = None
    sha256: str | None = Field(default=None, index=True)
    taken_date: str | None = None
    attached_by: str | None = None
    attached_at: str | None = None
    updated_hlc: int = 0


# Sync


class SyncKey(SQLModel, table=True):
    """A public key this node trusts for a unit: trusted here directly, or enrolled
    through a trusted key (`enrolled_by`). Revoked keys stay, marked."""

    __tablename__ = "sync_key"
    key_id: str = Field(primary_key=True)
    public_key: str
    unit_code: str = Field(index=True)
    parent_code: str | None = None
    role: str
    device_id: str | None = None
    enrolled_by: str | None = None
    trusted_at: str
    revoked_at: str | None = None
    #: For a device of a unit that already had one: the key id of the device of the
    #: same unit that handed it over, and its minisign signature of the hand-over.
    handover_by: str | None = None
    handover: str | None = None
    #: The device's age recipient and this key's signature over it (issue 11).
    recipient: str | None = None


class SyncSegment(SQLModel, table=True):
    """One origin's signed segment this node has merged, and where its bytes are
    kept (a stored bundle file and the member prefix) for relaying."""

    __tablename__ = "sync_segment"
    segment_id: str = Field(primary_key=True)
    key_id: str
    origin_unit: str = Field(index=True)
    receiver: str
    seq: int
    created_at: str
    received_at: str
    changes: int
    bundle_file: str
    prefix: str
    manifest_sha256: str = ""
    #: 1 if the bundle it arrived in was encrypted (age), 0 if plain.
    encrypted: int = 0


class SyncPeer(SQLModel, table=True):
    """Our bundle counter to a neighbour unit."""

    __tablename__ = "sync_peer"
    unit_code: str = Field(primary_key=True)
    next_seq: int = 1


class SyncAck(SQLModel, table=True):
    """What one device (key) of a neighbour unit said it holds: its acks (JSON), and
    how far it holds this node's own changes."""

    __tablename__ = "sync_ack"
    key_id: str = Field(primary_key=True)
    unit_code: str = Field(index=True)
    acks: str
    acked_local_seq: int = 0


class SyncSent(SQLModel, table=True):
    """A bundle this node wrote: for whom, its number, the last own change it carried."""

    __tablename__ = "sync_sent"
    receiver: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    max_local_seq: int
    created_at: str
    file_name: str
    #: Key ids of the devices the bundle was encrypted to, space-separated; '' if plain.
    encrypted_to: str = ""


class SyncHeld(SQLModel, table=True):
    """A change set dated too far ahead of this laptop's clock, held aside (not applied)
    until its time comes; the segment and origin unit that brought it."""

    __tablename__ = "sync_held"
    __table_args__ = (Index("ix_sync_held_hlc", "hlc"),)
    set_id: str = Field(primary_key=True)
    segment_id: str
    origin_unit: str
    entity: str
    record_id: str
    hlc: int
    device_id: str
    unit: str
    fields: str
    replaces: str
    held_at: str


class SyncSegmentFile(SQLModel, table=True):
    """A file (by SHA-256) that a held segment's signed manifest lists: whoever holds
    the segment holds the file."""

    __tablename__ = "sync_segment_file"
    segment_id: str = Field(primary_key=True)
    sha256: str = Field(primary_key=True, index=True)
    size: int


class SyncRefused(SQLModel, table=True):
    """A segment refused here (one manifest of one number), remembered so that a
    carrier relaying it again is not reported again, and is acknowledged to stop."""

    __tablename__ = "sync_refused"
    segment_id: str = Field(primary_key=True)
    manifest_sha256: str = Field(primary_key=True)
    key_id: str
    origin_unit: str = Field(index=True)
    receiver: str
    seq: int
    reason: str
    refused_at: str
