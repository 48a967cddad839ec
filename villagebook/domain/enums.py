"""The closed vocabularies of the domain, with stable English codes.

Codes are what the database, bundles and `dump --json` carry; they never change.
Each member's `label` is an English msgid that the translation layer turns into
the words users see (Chinese by default).
"""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """An enum whose value is a stable code and whose members carry a label msgid."""

    label: str

    def __new__(cls, code: str, label: str = "") -> Choice:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        return member

    @classmethod
    def codes(cls) -> list[str]:
        """Every code, in declaration order."""
        return [member.value for member in cls]


class Role(Choice):
    VILLAGE = ("village", "Village / section")
    TOWNSHIP = ("township", "Township / street")
    DISTRICT = ("district", "District")


class UnitKind(Choice):
    DISTRICT = ("district", "District")
    TOWNSHIP = ("township", "Township / street")
    VILLAGE = ("village", "Village / community")
    SECTION = ("section", "Section / office / station")


class Direction(Choice):
    BREAKTHROUGH = ("breakthrough", "Breakthrough on a key problem")
    IMPLEMENTATION = ("implementation", "Creative implementation of policy")
    PROCESS = ("process", "Re-engineering a business-environment process")


class ChangeAspect(Choice):
    APPROACH = ("approach", "Approach")
    MEASURES = ("measures", "Measures")
    PROCESS = ("process", "Process")
    MODE = ("mode", "Mode of work")


class Principle(Choice):
    PROBLEM_ORIENTED = ("problem_oriented", "Problem-oriented")
    GOAL_ORIENTED = ("goal_oriented", "Goal-oriented")
    INTEGRATION = ("integration", "Integration and surpassing")
    PUBLIC_RECOGNITION = ("public_recognition", "Recognised by the public")
    BOTTOM_LINE = ("bottom_line", "Holding the bottom line")


class CaseStatus(Choice):
    DRAFT = ("draft", "Draft")
    SUBMITTED = ("submitted", "Submitted")
    APPROVED = ("approved", "Approved by township")
    RETURNED = ("returned", "Returned for revision")
    SCORED = ("scored", "Scored by district")


class ProblemCategory(Choice):
    CONSTRAINT = ("constraint", "Most constrains development")
    URGENT = ("urgent", "Most urgent for residents")
    BUSINESS = ("business", "Business environment")
    OTHER = ("other", "Other")


class ProblemSource(Choice):
    RESIDENTS = ("residents", "Residents' report")
    VISIT = ("visit", "Visit")
    ASSIGNED = ("assigned", "Assigned from above")
    SELF_INSPECTION = ("self_inspection", "Self-inspection")


class Urgency(Choice):
    HIGH = ("high", "High")
    MEDIUM = ("medium", "Medium")
    LOW = ("low", "Low")


class ProblemStatus(Choice):
    OPEN = ("open", "Open")
    STUDYING = ("studying", "Studying")
    RESOLVING = ("resolving", "Resolving")
    RESOLVED = ("resolved", "Resolved")
    CLOSED = ("closed", "Closed (verified)")


class ReviewDecision(Choice):
    APPROVE = ("approve", "Approve")
    RETURN = ("return", "Return for revision")


class AttachmentKind(Choice):
    PHOTO = ("photo", "Photo")
    DOCUMENT = ("document", "Document")
    OTHER = ("other", "Other file")


class AttachmentTarget(Choice):
    """The kinds of record a file may hang on."""

    CASE = ("case", "Innovation case")
    PROBLEM = ("problem", "Ledger problem")
    FOLLOWUP = ("followup", "Follow-up")
