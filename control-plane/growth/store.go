package growth

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// partner is what the figures need of a partner.
type partner struct {
	id      string
	created time.Time
	source  string // referral code, or SourceNone
}

// reach is one milestone a partner reached.
type reach struct {
	partnerID string
	milestone string
	at        time.Time
}

// partners returns every partner that signed up before to, with its source.
func (s *Service) partners(ctx context.Context, to time.Time) (map[string]*partner, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, created_at, COALESCE(NULLIF(signup_referral_code, ''), $2)
FROM partners WHERE created_at < $1`, to, SourceNone)
	if err != nil {
		return nil, fmt.Errorf("growth: partners: %w", err)
	}
	out := map[string]*partner{}
	var p partner
	_, err = pgx.ForEachRow(rows, []any{&p.id, &p.created, &p.source}, func() error {
		c := p
		c.created = c.created.UTC()
		out[c.id] = &c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("growth: partners: %w", err)
	}
	return out, nil
}

// sourceKnown reports whether any partner signed up with the referral code (or, for
// SourceNone, without one).
func (s *Service) sourceKnown(ctx context.Context, source string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partners
WHERE COALESCE(NULLIF(signup_referral_code, ''), $2) = $1)`, source, SourceNone).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("growth: source: %w", err)
	}
	return ok, nil
}

// milestones returns the milestones reached before to by partners who signed up in
// [from, to), and the activations (first_live_order) reached in [from, to) by anyone.
func (s *Service) milestones(ctx context.Context, from, to time.Time) ([]reach, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.partner_id, m.milestone, m.reached_at
FROM onboarding_milestones m JOIN partners p ON p.id = m.partner_id
WHERE m.reached_at < $2 AND m.milestone = ANY($3)
  AND ((p.created_at >= $1 AND p.created_at < $2) OR (m.milestone = $4 AND m.reached_at >= $1))`,
		from, to, Milestones[1:], FirstLiveOrder)
	if err != nil {
		return nil, fmt.Errorf("growth: milestones: %w", err)
	}
	var out []reach
	var r reach
	_, err = pgx.ForEachRow(rows, []any{&r.partnerID, &r.milestone, &r.at}, func() error {
		c := r
		c.at = c.at.UTC()
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("growth: milestones: %w", err)
	}
	return out, nil
}
