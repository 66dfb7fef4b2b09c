"""What a user can see and do, once for both front ends (the Textual workstation and the CLI).

views: read models; commands: every state-changing user action (through the profile check, the risk
gate and the order manager); roles: profiles and the audit trail; jobs: work in worker processes;
workstation: the running node as the workstation sees it.
"""
