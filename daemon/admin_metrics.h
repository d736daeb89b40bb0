/*
 * admin_metrics: the admin port's GET /metrics (Prometheus text format).
 */
#pragma once

/* Adds the /metrics route to the admin port's HTTP routes. */
void admin_metrics_setup(void);
