#include "http/worker_pool.h"

#include <algorithm>

namespace hearth::http {

WorkerPool::WorkerPool(int min_threads, int max_threads, std::chrono::milliseconds idle_exit)
    : min_threads_(std::max(1, min_threads)),
      max_threads_(std::max(std::max(1, min_threads), max_threads)),
      idle_exit_(idle_exit) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < min_threads_; ++i) spawn_locked();
  if (max_threads_ > min_threads_) monitor_ = std::thread([this] { monitor(); });
}

void WorkerPool::monitor() {
  constexpr auto kLook = std::chrono::milliseconds(5);
  constexpr size_t kMaxPerLook = 8;
  std::unique_lock lock(mutex_);
  uint64_t seen = finished_tasks_;
  while (!stopping_) {
    monitor_wake_.wait_for(lock, kLook, [&] { return stopping_; });
    if (stopping_) break;
    if (!tasks_.empty() && finished_tasks_ == seen && idle_ == 0) {
      // Everyone is stuck in a task that waits: add threads for what queues.
      const size_t add = std::min(tasks_.size(), kMaxPerLook);
      for (size_t i = 0; i < add && alive_ < max_threads_; ++i) spawn_locked();
      wake_.notify_all();
    }
    seen = finished_tasks_;
  }
}

WorkerPool::~WorkerPool() {
  stop();
}

void WorkerPool::spawn_locked() {
  // Join the threads that ended since the last spawn, so their handles do not pile up.
  for (const auto& id : exited_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [&](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  exited_.clear();
  ++alive_;
  threads_.emplace_back([this] { run(); });
}

void WorkerPool::run_or_inline(std::function<void()> task) {
  if (!submit(std::move(task))) task();
}

bool WorkerPool::submit(std::function<void()>&& task) {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  tasks_.push_back(std::move(task));
  if (idle_ < static_cast<int>(tasks_.size()) && alive_ < min_threads_) spawn_locked();
  wake_.notify_one();
  return true;
}

void WorkerPool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    const bool woke =
        wake_.wait_for(lock, idle_exit_, [&] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (stopping_) break;
    if (!woke) {
      if (alive_ > min_threads_) break;  // idle too long: give the thread back
      continue;
    }
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // release captures before taking the lock again
    lock.lock();
    ++finished_tasks_;
  }
  --alive_;
  if (!stopping_) exited_.push_back(std::this_thread::get_id());
}

void WorkerPool::stop() {
  std::vector<std::thread> threads;
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(tasks_);  // destroyed below, outside the lock: a task's captures may submit
    threads.swap(threads_);
    exited_.clear();
  }
  wake_.notify_all();
  monitor_wake_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
}

int WorkerPool::threads() const {
  std::lock_guard lock(mutex_);
  return alive_;
}

int WorkerPool::busy() const {
  std::lock_guard lock(mutex_);
  return alive_ - idle_;
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

}  // namespace hearth::http
