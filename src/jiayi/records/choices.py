"""Choices of the health account, in English with their Chinese labels."""

from django.db import models


class EncounterType(models.TextChoices):
    OUTPATIENT = "outpatient", "门诊 Outpatient"
    INPATIENT = "inpatient", "住院 Inpatient"
    EMERGENCY = "emergency", "急诊 Emergency"
    HOME_VISIT = "home_visit", "上门/家庭访视 Home visit"
    ONLINE = "online", "互联网诊疗 Online"


class ClinicalStatus(models.TextChoices):
    """A diagnosis's clinical status, with the codes of FHIR's condition-clinical value set."""

    ACTIVE = "active", "活动 Active"
    RECURRENCE = "recurrence", "复发 Recurrence"
    RELAPSE = "relapse", "再发 Relapse"
    INACTIVE = "inactive", "非活动 Inactive"
    REMISSION = "remission", "缓解 Remission"
    RESOLVED = "resolved", "已治愈 Resolved"


class ObservationCode(models.TextChoices):
    """What was measured, by LOINC code. Every measure the platform uses so far has a LOINC code; a
    measure without one gets a code of the local system `fhir_systems.LOCAL_OBSERVATION_SYSTEM`,
    documented here beside its label."""

    SYSTOLIC_BP = "8480-6", "收缩压 Systolic blood pressure"
    DIASTOLIC_BP = "8462-4", "舒张压 Diastolic blood pressure"
    FASTING_GLUCOSE = "1558-6", "空腹血糖 Fasting glucose"
    RANDOM_GLUCOSE = "2339-0", "随机血糖 Random glucose"
    HBA1C = "4548-4", "糖化血红蛋白 HbA1c"
    HEIGHT = "8302-2", "身高 Height"
    WEIGHT = "29463-7", "体重 Weight"
    BMI = "39156-5", "体质指数 BMI"
    WAIST = "8280-0", "腰围 Waist circumference"
    HEART_RATE = "8867-4", "心率 Heart rate"
    TOTAL_CHOLESTEROL = "2093-3", "总胆固醇 Total cholesterol"
    HDL = "2085-9", "高密度脂蛋白胆固醇 HDL cholesterol"
    LDL = "18262-6", "低密度脂蛋白胆固醇 LDL cholesterol"
    TRIGLYCERIDES = "2571-8", "甘油三酯 Triglycerides"
    CREATININE = "2160-0", "血肌酐 Creatinine"
    BODY_TEMPERATURE = "8310-5", "体温 Body temperature"
    RESPIRATORY_RATE = "9279-1", "呼吸频率 Respiratory rate"


class ObservationMethod(models.TextChoices):
    """Where and how a measurement was taken: self-measurements count differently from the clinic's."""

    CLINIC = "clinic", "诊室测量 Clinic"
    HOME_VISIT = "home_visit", "上门测量 Home visit"
    SMART_HEALTH_POST = "smart_health_post", "智慧健康驿站 Smart health post"
    WEARABLE = "wearable", "可穿戴设备 Wearable"
    LABORATORY = "laboratory", "实验室检验 Laboratory"


class MedicationKind(models.TextChoices):
    REQUEST = "request", "处方 Prescription (MedicationRequest)"
    STATEMENT = "statement", "用药记录 Medication statement"


class MedicationStatus(models.TextChoices):
    """The status codes MedicationRequest and MedicationStatement share in FHIR R4."""

    ACTIVE = "active", "使用中 Active"
    ON_HOLD = "on-hold", "暂停 On hold"
    COMPLETED = "completed", "已完成 Completed"
    STOPPED = "stopped", "已停用 Stopped"
    UNKNOWN = "unknown", "未知 Unknown"


class SchoolCheckKind(models.TextChoices):
    HEALTH_CHECK = "health_check", "学生健康体检 School health check"
    FITNESS_TEST = "fitness_test", "学生体质健康测试 Fitness test"
