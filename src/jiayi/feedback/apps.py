from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """Residents' satisfaction surveys (满意度调查) and complaints/feedback (投诉与建议)."""

    name = "jiayi.feedback"
    label = "feedback"
    verbose_name = "满意度与投诉 Satisfaction and feedback"
