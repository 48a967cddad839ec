"""What each kind of record holds: one declaration that drives validation, storage,
spreadsheet headers, search and `dump`.

Every synced record kind (an *entity*) is a list of `Field`s. The store projects
change records onto one table per entity whose columns are exactly these fields
(plus `id`), so adding a field here is the whole change for most features.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from villagebook.domain.authority import Writer, register_entity_writer
from villagebook.domain.enums import (
    AttachmentKind,
    AttachmentTarget,
    CaseStatus,
    ChangeAspect,
    Choice,
    Direction,
    Principle,
    ProblemCategory,
    ProblemSource,
    ProblemStatus,
    ReviewDecision,
    UnitKind,
    Urgency,
)


class Kind(str, Enum):
    """How a field's value is typed, parsed and stored."""

    TEXT = "text"
    LONGTEXT = "longtext"
    DATE = "date"
    CHOICE = "choice"
    CHOICES = "choices"
    BOOL = "bool"
    INT = "int"
    REF = "ref"
    REFS = "refs"


@dataclass(frozen=True)
class Field:
    """One field of an entity.

    `label` is an English msgid (the header users see, translated); `headers`
    are extra spreadsheet column names accepted on import, in any language.
    """

    name: str
    label: str
    kind: Kind = Kind.TEXT
    required: bool = False
    max_length: int | None = None
    choices: type[Choice] | None = None
    minimum: int | None = None
    maximum: int | None = None
    headers: tuple[str, ...] = ()
    searchable: bool = False
    #: Set once when the record is created; later changes are refused.
    immutable: bool = False
    #: A regular expression every stored text value matches whole (a hash, say).
    pattern: str | None = None

    @property
    def is_list(self) -> bool:
        """True for fields whose value is a list (choices, references)."""
        return self.kind in (Kind.CHOICES, Kind.REFS)


@dataclass(frozen=True)
class Entity:
    """A kind of synced record: its table and its fields."""

    name: str
    table: str
    label: str
    fields: tuple[Field, ...]
    #: The field naming the unit that owns the record (authorisation and ledger
    #: grouping); `None` where ownership comes from a parent record.
    owner_field: str | None = "unit_code"
    #: For child records: the field holding the parent's id and the parent entity.
    parent: tuple[str, str] | None = None
    #: The table's primary-key column; its value is the record id.
    key: str = "id"
    #: Whether its records travel down to every unit under the district, not only to
    #: the owner's line (a model case is there for the other units to adopt).
    shared: bool = False

    def field(self, name: str) -> Field:
        """The field called `name`; KeyError if the entity has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of every field, in declaration order."""
        return tuple(f.name for f in self.fields)


TITLE_MAX = 100
NAME_MAX = 40
TEXT_MAX = 200
LONGTEXT_MAX = 5000

UNIT = Entity(
    name="unit",
    table="unit",
    label="Unit",
    owner_field="code",
    key="code",
    fields=(
        Field("code", "Unit code", required=True, max_length=12, immutable=True,
              headers=("单位代码", "区划代码", "code")),
        Field("name", "Unit name", required=True, max_length=NAME_MAX, headers=("单位名称",)),
        # A unit's kind and place are fixed when it is set up (see change_rules).
        Field("kind", "Unit kind", Kind.CHOICE, required=True, choices=UnitKind,
              immutable=True, headers=("单位类型",)),
        Field("parent_code", "Parent unit", max_length=12, immutable=True,
              headers=("上级单位代码",)),
    ),
)

CASE = Entity(
    name="case",
    table="innovation_case",
    label="Innovation case",
    fields=(
        Field("unit_code", "Unit", required=True, max_length=12, immutable=True,
              headers=("单位", "单位代码", "unit")),
        Field("title", "Case title", required=True, max_length=TITLE_MAX, searchable=True,
              headers=("案例名称", "标题", "名称", "title", "name")),
        Field("lead_person", "Lead person", required=True, max_length=NAME_MAX,
              headers=("负责人", "lead", "lead_person")),
        Field("contact", "Contact", max_length=NAME_MAX, headers=("联系方式", "联系电话")),
        Field("start_date", "Start date", Kind.DATE, headers=("开始时间", "开始日期", "start")),
        Field("direction", "Direction", Kind.CHOICE, required=True, choices=Direction,
              headers=("创新方向",)),
        Field("aspects", "What it changed", Kind.CHOICES, choices=ChangeAspect,
              headers=("创新内容", "改变内容")),
        Field("problem_addressed", "Problem addressed", Kind.LONGTEXT,
              max_length=LONGTEXT_MAX, searchable=True, headers=("聚焦问题", "problem")),
        Field("linked_problem_ids", "Linked ledger problems", Kind.REFS,
              headers=("关联问题",)),
        Field("measures", "Measures taken", Kind.LONGTEXT, max_length=LONGTEXT_MAX,
              searchable=True, headers=("创新举措", "举措")),
        Field("results", "Results", Kind.LONGTEXT, max_length=LONGTEXT_MAX, searchable=True,
              headers=("取得成效", "成效")),
        Field("public_recognition", "Public recognition", Kind.LONGTEXT,
              max_length=LONGTEXT_MAX, searchable=True, headers=("群众认可", "recognition")),
        Field("principles", "Five principles", Kind.CHOICES, choices=Principle,
              headers=("五个坚持",)),
        Field("fault_tolerance", "Fault tolerance requested", Kind.BOOL,
              headers=("申请容错", "容错纠错")),
        Field("fault_tolerance_reason", "Fault tolerance reason", Kind.LONGTEXT,
              max_length=LONGTEXT_MAX, headers=("容错说明",)),
        Field("status", "Status", Kind.CHOICE, choices=CaseStatus, headers=("状态",)),
        Field("origin_case_id", "Adopted from case", Kind.REF, immutable=True,
              headers=("推广来源",)),
    ),
)

PROBLEM = Entity(
    name="problem",
    table="problem",
    label="Ledger problem",
    fields=(
        Field("unit_code", "Unit", required=True, max_length=12, immutable=True,
              headers=("单位", "单位代码", "unit")),
        Field("title", "Problem title", required=True, max_length=TITLE_MAX, searchable=True,
              headers=("问题名称", "问题", "标题", "title", "name")),
        Field("description", "Description", Kind.LONGTEXT, max_length=LONGTEXT_MAX,
              searchable=True, headers=("问题描述", "描述", "具体内容")),
        Field("category", "Category", Kind.CHOICE, required=True, choices=ProblemCategory,
              headers=("问题类别", "类别")),
        Field("source", "Source", Kind.CHOICE, required=True, choices=ProblemSource,
              headers=("问题来源", "来源")),
        Field("reported_date", "Reported on", Kind.DATE, required=True,
              headers=("发现时间", "登记日期", "反映时间", "reported")),
        Field("reporter", "Reporter", max_length=NAME_MAX, headers=("反映人", "登记人")),
        Field("urgency", "Urgency", Kind.CHOICE, required=True, choices=Urgency,
              headers=("紧急程度",)),
        Field("responsible_person", "Responsible person", max_length=NAME_MAX,
              headers=("责任人", "responsible")),
        Field("deadline", "Deadline", Kind.DATE, headers=("限期", "办结时限", "期限")),
        Field("status", "Status", Kind.CHOICE, choices=ProblemStatus, headers=("状态",)),
        Field("resolution", "Resolution", Kind.LONGTEXT, max_length=LONGTEXT_MAX,
              searchable=True, headers=("解决情况", "办理结果")),
        Field("solved_by_case_id", "Solved by case", Kind.REF, headers=("解决案例",)),
    ),
)

FOLLOWUP = Entity(
    name="followup",
    table="followup",
    label="Follow-up",
    owner_field=None,
    parent=("problem_id", "problem"),
    fields=(
        Field("problem_id", "Problem", Kind.REF, required=True, immutable=True),
        Field("date", "Date", Kind.DATE, required=True, immutable=True),
        Field("author", "Author", required=True, max_length=NAME_MAX, immutable=True),
        Field("text", "Progress", Kind.LONGTEXT, required=True, max_length=LONGTEXT_MAX,
              searchable=True),
    ),
)

REVIEW = Entity(
    name="review",
    table="review",
    label="Review",
    owner_field=None,
    parent=("case_id", "case"),
    fields=(
        Field("case_id", "Case", Kind.REF, required=True, immutable=True),
        Field("decision", "Decision", Kind.CHOICE, required=True, choices=ReviewDecision,
              immutable=True),
        Field("comment", "Comment", Kind.LONGTEXT, max_length=LONGTEXT_MAX),
        Field("reviewer", "Reviewer", required=True, max_length=NAME_MAX, immutable=True),
        Field("date", "Date", Kind.DATE, required=True, immutable=True),
    ),
)

SCORE = Entity(
    name="score",
    table="score",
    label="Expert score",
    owner_field=None,
    parent=("case_id", "case"),
    fields=(
        Field("case_id", "Case", Kind.REF, required=True, immutable=True),
        Field("expert", "Expert", required=True, max_length=NAME_MAX, immutable=True),
        Field("score", "Score", Kind.INT, required=True, minimum=0, maximum=100),
        Field("comment", "Comment", Kind.LONGTEXT, max_length=LONGTEXT_MAX),
        Field("date", "Date", Kind.DATE, required=True, immutable=True),
    ),
)

# Evaluation: the district's rubric of a period, and cases it marks as models.

RUBRIC = Entity(
    name="rubric",
    table="rubric",
    label="Rubric",
    owner_field="district_code",
    fields=(
        Field("district_code", "District", required=True, max_length=12, immutable=True),
        Field("period", "Period", required=True, max_length=10, immutable=True),
        Field("weight_expert", "Points for expert scores", Kind.INT, required=True,
              minimum=0, maximum=100),
        Field("weight_approved", "Points for approved cases", Kind.INT, required=True,
              minimum=0, maximum=100),
        Field("approved_target", "Approved cases for full points", Kind.INT, required=True,
              minimum=1, maximum=100),
        Field("weight_resolved", "Points for problems resolved in time", Kind.INT,
              required=True, minimum=0, maximum=100),
        Field("overdue_penalty", "Points deducted per overdue problem", Kind.INT,
              required=True, minimum=0, maximum=100),
        Field("top_n", "Cheetah awards (top N)", Kind.INT, required=True, minimum=0,
              maximum=50),
        Field("bottom_n", "Sloth awards (bottom N)", Kind.INT, required=True, minimum=0,
              maximum=50),
    ),
)

MODEL_CASE = Entity(
    name="model_case",
    table="model_case",
    label="Model case",
    owner_field=None,
    parent=("case_id", "case"),
    shared=True,
    fields=(
        Field("case_id", "Case", Kind.REF, required=True, immutable=True),
        Field("citation", "Why it is a model", Kind.LONGTEXT, max_length=LONGTEXT_MAX),
        Field("marked_by", "Marked by", required=True, max_length=NAME_MAX),
        Field("date", "Date", Kind.DATE, required=True),
        Field("withdrawn", "Withdrawn", Kind.BOOL),
        # What other units need to adopt the model, since the case itself stays with
        # its own township's units and the district: a snapshot taken when marked.
        Field("origin_unit", "Unit code", max_length=12, immutable=True),
        Field("unit_name", "Unit name", max_length=NAME_MAX),
        Field("title", "Case title", max_length=TITLE_MAX),
        Field("direction", "Direction", Kind.CHOICE, choices=Direction),
        Field("aspects", "What it changed", Kind.CHOICES, choices=ChangeAspect),
        Field("problem_addressed", "Problem addressed", Kind.LONGTEXT,
              max_length=LONGTEXT_MAX),
        Field("measures", "Measures taken", Kind.LONGTEXT, max_length=LONGTEXT_MAX),
        Field("results", "Results", Kind.LONGTEXT, max_length=LONGTEXT_MAX),
    ),
)

# Evidence: a file attached to a case, a ledger problem or a follow-up. The record
# holds what the file is; its bytes live in the home's file store under `sha256`.
# It names its owner itself (the unit of the record it hangs on), since it may hang
# on records of three kinds and `parent` names one.

ATTACHMENT = Entity(
    name="attachment",
    table="attachment",
    label="Attachment",
    fields=(
        Field("unit_code", "Unit", required=True, max_length=12, immutable=True),
        Field("record_kind", "Attached to", Kind.CHOICE, required=True,
              choices=AttachmentTarget, immutable=True),
        Field("record_id", "Record", Kind.REF, required=True, immutable=True),
        Field("caption", "Caption", max_length=TEXT_MAX),
        Field("kind", "Kind of file", Kind.CHOICE, required=True, choices=AttachmentKind),
        # The name the file had: data to show, never a path to open or write.
        Field("name", "File name", required=True, max_length=255, immutable=True),
        Field("size", "Size in bytes", Kind.INT, required=True, minimum=0, immutable=True),
        Field("media_type", "File type", max_length=100, immutable=True),
        Field("sha256", "SHA-256", required=True, max_length=64, immutable=True,
              pattern="[0-9a-f]{64}"),
        Field("taken_date", "Taken on", Kind.DATE, immutable=True),
        Field("attached_by", "Attached by", required=True, max_length=NAME_MAX * 2,
              immutable=True),
        Field("attached_at", "Attached at", required=True, max_length=32, immutable=True),
    ),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (UNIT, CASE, PROBLEM, FOLLOWUP, REVIEW, SCORE, RUBRIC, MODEL_CASE, ATTACHMENT)
}

# Whoever learns of these entities learns who may write them: the district alone.
register_entity_writer(RUBRIC.name, Writer.DISTRICT)
register_entity_writer(MODEL_CASE.name, Writer.DISTRICT)
# Evidence is added and removed by the unit that owns the record it hangs on.
register_entity_writer(ATTACHMENT.name, Writer.OWNER)

#: The pseudo-field a tombstone change sets; a record with one is deleted for good.
DELETED_FIELD = "_deleted"


def entity(name: str) -> Entity:
    """The entity called `name`; KeyError for unknown names."""
    return ENTITIES[name]
