"""Choices of the registry, in English with their Chinese labels."""

from django.db import models


class Sex(models.TextChoices):
    MALE = "male", "男 Male"
    FEMALE = "female", "女 Female"
    UNKNOWN = "unknown", "未知 Unknown"


class PlaceLevel(models.TextChoices):
    CITY = "city", "市 City"
    DISTRICT = "district", "区 District"
    SUB_DISTRICT = "sub_district", "街道/镇 Sub-district or town"
    COMMITTEE = "committee", "居委/村委 Committee"


class PlaceKind(models.TextChoices):
    """Finer kind inside a level: a sub-district may be a street (街道) or a town (镇)."""

    CITY = "city", "市 City"
    DISTRICT = "district", "区 District"
    STREET = "street", "街道 Sub-district"
    TOWN = "town", "镇 Town"
    RESIDENTIAL_COMMITTEE = "residential_committee", "居委会 Residential committee"
    VILLAGE_COMMITTEE = "village_committee", "村委会 Village committee"


class InstitutionKind(models.TextChoices):
    COMMUNITY_HEALTH_CENTRE = "community_health_centre", "社区卫生服务中心 Community health centre"
    BRANCH_CENTRE = "branch_centre", "分中心 Branch centre"
    STATION = "station", "服务站 Station"
    SMART_HEALTH_POST = "smart_health_post", "智慧健康驿站 Smart health post"
    VILLAGE_CLINIC = "village_clinic", "村卫生室 Village clinic"
    DISTRICT_HOSPITAL = "district_hospital", "区级医院 District hospital"
    REGIONAL_MEDICAL_CENTRE = "regional_medical_centre", "区域性医疗中心 Regional medical centre"
    MUNICIPAL_HOSPITAL = "municipal_hospital", "市级医院 Municipal hospital"
    CARE_HOME = "care_home", "养老机构 Care home"
    FIRM = "firm", "企业 Firm"
    PARK = "park", "园区 Park"
    OFFICE_TOWER = "office_tower", "商务楼宇 Office tower"
    SCHOOL = "school", "学校 School"
    CDC = "cdc", "疾控中心 CDC"
    HEALTH_COMMISSION = "health_commission", "卫健委 Health commission"


PRIMARY_CARE_KINDS = frozenset(
    {
        InstitutionKind.COMMUNITY_HEALTH_CENTRE,
        InstitutionKind.BRANCH_CENTRE,
        InstitutionKind.STATION,
        InstitutionKind.VILLAGE_CLINIC,
    }
)
HOSPITAL_KINDS = frozenset(
    {
        InstitutionKind.DISTRICT_HOSPITAL,
        InstitutionKind.REGIONAL_MEDICAL_CENTRE,
        InstitutionKind.MUNICIPAL_HOSPITAL,
    }
)
FUNCTIONAL_COMMUNITY_KINDS = frozenset(
    {InstitutionKind.FIRM, InstitutionKind.PARK, InstitutionKind.OFFICE_TOWER, InstitutionKind.SCHOOL}
)


class Profession(models.TextChoices):
    FAMILY_DOCTOR = "family_doctor", "全科/家庭医生 Family doctor (GP)"
    NURSE = "nurse", "护士 Nurse"
    PUBLIC_HEALTH_DOCTOR = "public_health_doctor", "公卫医生 Public-health doctor"
    ASSISTANT = "assistant", "行政助手 Assistant"
    PHARMACIST = "pharmacist", "药师 Pharmacist"
    PSYCHOLOGIST = "psychologist", "心理咨询师 Psychologist"
    NUTRITIONIST = "nutritionist", "营养师 Nutritionist"
    REHAB_THERAPIST = "rehab_therapist", "康复治疗师 Rehab therapist"
    SOCIAL_WORKER = "social_worker", "社工 Social worker"
    SPECIALIST = "specialist", "专科医生 Specialist"
    MANAGER = "manager", "管理人员 Manager"
    CDC_OFFICER = "cdc_officer", "疾控人员 CDC officer"
    ANALYST = "analyst", "分析人员 Analyst"


class Relationship(models.TextChoices):
    """Relationship to the head of household (与户主关系)."""

    HEAD = "head", "户主 Head"
    SPOUSE = "spouse", "配偶 Spouse"
    CHILD = "child", "子女 Child"
    PARENT = "parent", "父母 Parent"
    GRANDCHILD = "grandchild", "孙子女 Grandchild"
    GRANDPARENT = "grandparent", "祖父母 Grandparent"
    SIBLING = "sibling", "兄弟姐妹 Sibling"
    CHILD_IN_LAW = "child_in_law", "儿媳/女婿 Child-in-law"
    OTHER = "other", "其他 Other"


class AlternativeIdType(models.TextChoices):
    """Documented identifiers for people without a mainland citizen ID."""

    PASSPORT = "passport", "护照 Passport"
    HK_MACAO_PERMIT = "hk_macao_permit", "港澳居民居住证/通行证 Hong Kong/Macao permit"
    TAIWAN_PERMIT = "taiwan_permit", "台湾居民居住证/通行证 Taiwan permit"
    FOREIGN_PERMANENT = "foreign_permanent", "外国人永久居留身份证 Foreign permanent residence ID"
    BIRTH_CERTIFICATE = "birth_certificate", "出生医学证明 Birth certificate"
    PROVISIONAL = "provisional", "临时编号 Provisional number"


class KeyPopulation(models.TextChoices):
    """Key populations (重点人群) prioritised for signing and management."""

    ELDERLY_65 = "elderly_65", "65岁及以上老年人 Aged 65+"
    PREGNANT_POSTPARTUM = "pregnant_postpartum", "孕产妇 Pregnant or postpartum"
    CHILD_0_6 = "child_0_6", "0-6岁儿童 Child 0–6"
    DISABLED = "disabled", "残疾人 Disabled"
    HYPERTENSION = "hypertension", "高血压患者 Hypertension"
    DIABETES = "diabetes", "糖尿病患者 Diabetes"
    TUBERCULOSIS = "tuberculosis", "肺结核患者 Tuberculosis"
    SEVERE_MENTAL_DISORDER = "severe_mental_disorder", "严重精神障碍患者 Severe mental disorder"
    POVERTY = "poverty", "低保/贫困人口 Poverty-registered"
    SPECIAL_FAMILY_PLANNING = "special_family_planning", "计划生育特殊家庭 Special family-planning family"
    FOUR_MEDICAL_LINKAGE = "four_medical_linkage", "医养结合四医联动对象 Four-medical-linkage person"
    DISABLED_ELDERLY = "disabled_elderly", "失能老人 Disabled elderly"


DERIVED_KEY_POPULATIONS = frozenset({KeyPopulation.ELDERLY_65, KeyPopulation.CHILD_0_6})


class Role(models.TextChoices):
    """What a user account does in jiayi; access is decided from the role and the user's relationships."""

    RESIDENT = "resident", "居民 Resident"
    FAMILY_DOCTOR = "family_doctor", "家庭医生 Family doctor"
    TEAM_MEMBER = "team_member", "团队成员 Team member"
    CENTRE_MANAGER = "centre_manager", "中心管理者 Centre manager"
    REFERRAL_DESK = "referral_desk", "医院转诊台 Hospital referral desk"
    CDC_OFFICER = "cdc_officer", "疾控人员 CDC officer"
    DISTRICT_ANALYST = "district_analyst", "区卫健委分析员 District analyst"
    ADMINISTRATOR = "administrator", "系统管理员 Administrator"


class TeamRole(models.TextChoices):
    LEAD = "lead", "团队长 Lead family doctor"
    MEMBER = "member", "成员 Member"
