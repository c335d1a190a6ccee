"""Offline tools over a history of signals, no broker: replay, explain, diff, report and
scenario tests. They run the decision core (`rules.core`) exactly as the stream does.
"""
