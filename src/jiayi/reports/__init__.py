"""District reports (年度报告与季度简报): the three annual reports and the quarterly briefing of the
district's community health services, and the comprehensive evaluation of centres that links funding
to performance."""
