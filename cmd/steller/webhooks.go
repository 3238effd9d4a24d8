package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/config"
)

// wireWebhooks registers the webhook API on a and, with --webhook-delivery, adds the
// dispatcher (order events from Kafka to delivery jobs) and the River delivery workers to
// cp's background work. Without it the process only inserts jobs (an API-only replica);
// some other control-plane process must deliver them.
func wireWebhooks(cp *controlPlane, c config.Config, logger *slog.Logger, pool *pgxpool.Pool, a *api.API) (*webhook.Service, error) {
	logger = logger.With("component", "webhooks")
	guard := webhook.Guard{AllowPrivateNetworks: c.WebhookAllowPrivate}
	var worker *webhook.Worker
	if c.WebhookDelivery {
		var err error
		if worker, err = webhook.NewWorker(webhook.WorkerConfig{Pool: pool, Logger: logger, Guard: guard}); err != nil {
			return nil, err
		}
	}
	queue, err := webhook.NewClient(webhook.ClientConfig{Pool: pool, Logger: logger, Worker: worker, Concurrency: c.WebhookConcurrency})
	if err != nil {
		return nil, err
	}
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
	if !c.WebhookDelivery {
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
