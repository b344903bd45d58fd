"""Sampled raw clips (docs/usage-formats.md#sampled-clips): the applicant uploads a few clips as they came
from the generation service; the platform reads their AIGC implicit label and keeps the file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import filetype
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import User
from applications.aigc import ClipCheck, ClipFacts, check_clip, image_facts, video_facts_of_bytes
from applications.models import Application, SampledClip
from applications.states import Status
from applications.usage_lines import UsageLine
from core.refusals import Refused
from core.transactions import durable
from core.uploads import generated_path, safe_filename, stored_files
from enterprises.models import Right
from enterprises.permissions import record_use
from ledger.actions import record_event

VIDEO_TYPES = {"video/mp4": "mp4", "video/quicktime": "mov"}
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png"}
MAX_CLIPS = 20
CLOSED = {Status.PAID, Status.REJECTED, Status.WITHDRAWN}


class ClipRefused(Refused):
    status = 422
    code = "bad_clip"


@dataclass(frozen=True)
class ClipView:
    clip: SampledClip
    check: ClipCheck


def facts_of(clip: SampledClip) -> ClipFacts:
    return ClipFacts(
        label=clip.label,
        duration=Decimal(clip.duration) if clip.duration is not None else None,
        width=clip.width,
        height=clip.height,
        error=clip.read_error,
    )


def checked_clips(application: Application, lines: list[UsageLine]) -> list[ClipView]:
    """Each sampled clip with its check against the declared lines."""
    return [
        ClipView(clip, check_clip(clip.original_name, facts_of(clip), lines))
        for clip in application.sampled_clips.all()
    ]


def add_sampled_clip(
    application: Application, name: str, content: bytes, *, actor: User, request: HttpRequest | None = None
) -> SampledClip:
    """Keep one sampled clip (MP4, MOV, JPEG or PNG, as generated: images are not re-encoded, which
    would drop their label) with what its label says."""
    from applications.actions import require_applicant

    delegation = require_applicant(application, actor, Right.PREPARE, request)
    name = safe_filename(name or "clip")
    kind = filetype.guess(content)
    mime = kind.mime if kind is not None else ""
    if mime not in VIDEO_TYPES and mime not in IMAGE_TYPES:
        raise ValidationError(
            _("文件“%(name)s”不是 MP4、MOV、JPEG 或 PNG，已拒收") % {"name": name}, code="bad_type"
        )
    if application.status in CLOSED:
        raise ClipRefused(_("申请已办结，不能再上传抽样片段"))
    if application.sampled_clips.count() >= MAX_CLIPS:
        raise ClipRefused(_("每个申请至多上传 %(n)d 个抽样片段") % {"n": MAX_CLIPS})
    extension = VIDEO_TYPES.get(mime) or IMAGE_TYPES[mime]
    facts = video_facts_of_bytes(content, f".{extension}") if mime in VIDEO_TYPES else image_facts(content)
    digest = hashlib.sha256(content).hexdigest()
    with stored_files() as files:
        path = default_storage.save(generated_path("clips", extension), ContentFile(content))
        files.paths.append(path)  # removed again when the action fails
        with durable():
            clip = SampledClip.objects.create(
                application=application,
                file=path,
                original_name=name,
                mime=mime,
                size=len(content),
                sha256=digest,
                label=dict(facts.label) if facts.label is not None else None,
                duration=facts.duration.quantize(Decimal("0.001")) if facts.duration is not None else None,
                width=facts.width,
                height=facts.height,
                read_error=facts.error[:200],
                uploaded_by=actor,
            )
            record_use(delegation, Right.PREPARE, actor=actor, obj=application, request=request)
            record_event(
                "application.clip_upload",
                actor=actor,
                obj=application,
                after={
                    "clip_id": clip.pk,
                    "name": name,
                    "sha256": clip.sha256,
                    "labelled": clip.label is not None,
                },
                request=request,
            )
    return clip
