package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/detector"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/config"
)

// newJobs returns the control plane's one River client. With --webhook-delivery it works
// webhook deliveries and milestone_reached jobs (queue milestones) and the delivery
// worker is returned too; without, it only inserts them (an API-only replica), and some
// other control-plane process works them.
func newJobs(c config.Config, logger *slog.Logger, pool *pgxpool.Pool, reg prometheus.Registerer) (*river.Client[pgx.Tx], *webhook.Worker, error) {
	if !c.WebhookDelivery {
		queue, err := webhook.NewClient(webhook.ClientConfig{Pool: pool, Logger: logger})
		return queue, nil, err
	}
	worker, err := webhook.NewWorker(webhook.WorkerConfig{Pool: pool, Logger: logger.With("component", "webhooks"),
		Guard: webhook.Guard{AllowPrivateNetworks: c.WebhookAllowPrivate}})
	if err != nil {
		return nil, nil, err
	}
	milestones, err := milestone.NewWorker(milestone.WorkerConfig{Logger: logger.With("component", "milestones"), Registerer: reg})
	if err != nil {
		return nil, nil, err
	}
	queue, err := webhook.NewClient(webhook.ClientConfig{Pool: pool, Logger: logger, Worker: worker,
		Milestones: milestones, Concurrency: c.WebhookConcurrency})
	return queue, worker, err
}

// wireWebhooks registers the webhook API on a and, with a delivery worker
// (--webhook-delivery), adds the dispatcher (order events from Kafka to delivery jobs)
// and the River client's workers to cp's background work.
func wireWebhooks(cp *controlPlane, c config.Config, logger *slog.Logger, pool *pgxpool.Pool, a *api.API,
	queue *river.Client[pgx.Tx], worker *webhook.Worker) (*webhook.Service, error) {
	logger = logger.With("component", "webhooks")
	guard := webhook.Guard{AllowPrivateNetworks: c.WebhookAllowPrivate}
	tests, err := webhook.TestSendLimiter(pool, quotaRate(c.WebhookTestLimit), nil)
	if err != nil {
		return nil, err
	}
	svc, err := webhook.New(webhook.Config{Pool: pool, Queue: queue, Logger: logger,
		URLs:          webhook.URLPolicy{AllowHTTPForTest: c.WebhookAllowHTTP, Guard: guard},
		EndpointLimit: countLimit(c.WebhookEndpointLimit), TestSends: tests})
	if err != nil {
		return nil, err
	}
	webhook.Register(a.Huma(), webhook.Deps{Webhooks: svc, RBAC: a.Checker()})
	if worker == nil {
		return svc, nil
	}
	dispatcher, err := webhook.NewDispatcher(webhook.DispatcherConfig{Brokers: c.KafkaBrokers, Topic: c.OrderEventTopic, Service: svc, Logger: logger})
	if err != nil {
		return nil, err
	}
	cp.workers = append(cp.workers, dispatcher.Run, func(ctx context.Context) error {
		// River's own context outlives ctx so that Stop can let running deliveries finish
		// (bounded by the shutdown timeout) instead of cutting them off mid-request.
		if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		<-ctx.Done()
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownTimeout)
		defer cancel()
		if err := queue.Stop(stopCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	})
	return svc, nil
}

// wireDetector adds the milestone detector (--milestone-detector) to cp's background
// work: request logs and order events, each in its own consumer group
// (--milestone-group + "-requests" / "-orders"), to milestones in PostgreSQL.
func wireDetector(cp *controlPlane, c config.Config, logger *slog.Logger, pool *pgxpool.Pool, jobs milestone.BatchInserter, reg prometheus.Registerer) error {
	d, err := detector.New(detector.Config{
		Brokers: c.KafkaBrokers, RequestLogTopic: c.RequestLogTopic, OrderEventTopic: c.OrderEventTopic,
		RequestGroup: c.MilestoneGroup + "-requests", OrderGroup: c.MilestoneGroup + "-orders",
		Pool: pool, Jobs: jobs, Registerer: reg, Logger: logger.With("component", "milestone-detector"),
	})
	if err != nil {
		return err
	}
	cp.workers = append(cp.workers, d.Run)
	return nil
}
