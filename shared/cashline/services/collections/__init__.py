"""Collection campaigns at work, one module per concern:

- `entry`: an invoice enters its campaign (by itself when overdue, as a stage of the invoice's own
  unit of work; or started by a person), and a person pauses, resumes or stops a run;
- `promises`: a debtor's promise to pay, and how it is judged;
- `sync`: a run kept in step with its invoice (called by services/reactions.py after a commit);
- `sweep`: each due step once; `progress`: a run moving from step to step, with its figures;
- `rendering`: a step's text in the debtor's language; `debtors`: the debtor's zone and locale;
- `delivery`: e-mail, SMS, letter or call task, and the outcome recorded; `pdfs`: what a reminder carries;
- `approvals`: reminders held for a person; `feedback`: bounces and complaints;
- `tasks`: call tasks and the letter print queue; `stats`: a campaign's figures and the timeline;
- `context`: what they share (the runtime's channels, the repositories, the chased states).

Nothing is re-exported here: a handler imports only the module it needs (cold start).
"""
