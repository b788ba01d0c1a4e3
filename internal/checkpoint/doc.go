// Package checkpoint decides how often a replica saves its continuation.
//
// Workers leave without notice; the work a replica did since its last
// checkpoint is lost when its worker goes. Saving costs time too. With
// session lengths exponentially distributed with mean τ and a checkpoint
// costing δ, the interval that maximises the expected saved work per unit of
// session time is T* = τ·(1 + W₀(−e^(−1−δ/τ))) (OptimalInterval);
// docs/checkpointing.md derives it and states the model's assumptions.
//
// τ comes from the coordinator's own session records, open sessions counted
// as right-censored (EstimateMeanSession); T* becomes a fuel interval with
// FuelGrid, rounded coarsely so that every replica of a task checkpoints at
// the same fuel points and the grid does not move with every measurement.
package checkpoint
