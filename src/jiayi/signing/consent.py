"""The consent texts a resident reads before signing, with their versions.

A version names one exact text: when the wording changes, the version changes, so every recorded
consent says which words the resident agreed to (PIPL art. 14, 29).
"""

from __future__ import annotations

from dataclasses import dataclass

from jiayi.signing.choices import ConsentKind


@dataclass(frozen=True, slots=True)
class ConsentText:
    kind: str
    version: str
    title: str
    paragraphs: tuple[str, ...]


SIGNING_AGREEMENT = ConsentText(
    kind=ConsentKind.SIGNING,
    version="2026.1",
    title="家庭医生签约服务协议 Family-doctor signing agreement",
    paragraphs=(
        "我自愿与所选家庭医生及其团队签约一年，期满可续约；签约期间可按规定申请解约或更换医生。",
        "I choose this family doctor and their team for one year, renewable; I may end the signing or "
        "change doctor as the rules allow.",
        "团队将按所选服务包提供服务，并通过电话或短信与我联系。",
        "The team provides the services of the chosen package and contacts me by phone or text message.",
    ),
)
SENSITIVE_INFORMATION = ConsentText(
    kind=ConsentKind.SENSITIVE_PERSONAL_INFORMATION,
    version="2026.1",
    title="敏感个人信息处理同意 Processing of sensitive personal information",
    paragraphs=(
        "为提供签约服务，签约团队及“1+1+1”医疗机构将处理我的健康档案、诊疗与检查信息等敏感个人信息，"
        "仅用于健康管理、转诊与随访，保存至签约结束后法定期限。我可随时撤回本同意。",
        "To provide the signing's services, the team and the 1+1+1 institutions process my health record, "
        "visits and test results (sensitive personal information) for health management, referrals and "
        "follow-up only, and keep them for the legal period after the signing ends. I may withdraw this "
        "consent at any time.",
    ),
)
TEXTS = (SIGNING_AGREEMENT, SENSITIVE_INFORMATION)
