"""Pure domain model: values and rules, no I/O, no wall clock, no asyncio.

Money and quantities that touch real accounts are `Decimal`; timestamps are
integer milliseconds since the Unix epoch (UTC) unless a name says otherwise.
"""
