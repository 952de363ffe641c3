"""Quarantine reasons as HR reads them: pydantic's messages in plain words, a rule's own words kept."""

from trainbridge.core.words import quarantine_sentences


def test_a_pydantic_message_becomes_a_plain_sentence_naming_the_field():
    reason = "hire_date: Input should be a valid date"
    assert quarantine_sentences(reason, "zh") == ["字段「入职日期」不是有效日期"]
    assert quarantine_sentences("hire_date: Input should be a valid date", "en") == [
        "The field “hire date” is not a valid date"]


def test_a_rules_own_words_are_kept_in_english_not_garbled_into_a_field_name():
    reason = "jsonl line 2, field service_end: service_end 2027-05-10 and service_months 24 disagree"
    assert quarantine_sentences(reason, "en") == [
        "Jsonl line 2, field service_end: service_end 2027-05-10 and service_months 24 disagree"]
    assert quarantine_sentences(reason, "zh") == ["记录未通过校验"]


def test_a_value_error_names_its_field_and_says_what_the_rule_said():
    reason = "amount: Value error, at most two decimals"
    assert quarantine_sentences(reason, "en") == ["The field “amount”: at most two decimals"]
    assert quarantine_sentences(reason, "zh") == ["字段「金额」的值无效"]
