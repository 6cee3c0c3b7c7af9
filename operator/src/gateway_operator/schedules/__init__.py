"""WorkflowSchedules: a Temporal schedule of a WorkflowRoute's workflow per resource, kept in
step (:mod:`.reconciler`), by the same observe, plan (:mod:`.planner`, pure), execute as the
routes; Temporal I/O in :mod:`.temporal`."""
