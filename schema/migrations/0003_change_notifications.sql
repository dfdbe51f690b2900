-- `billing api` caches reads per account and listens on channel `billing_changes` to drop what changed: the payload
-- is a customer id, or '*' when the catalog changed (every account's plans and entitlements depend on it).
CREATE FUNCTION notify_customer_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- PostgreSQL delivers at commit and folds identical payloads of one transaction into one.
  IF TG_OP <> 'INSERT' AND OLD.customer_id IS NOT NULL THEN
    PERFORM pg_notify('billing_changes', OLD.customer_id);
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.customer_id IS NOT NULL THEN
    PERFORM pg_notify('billing_changes', NEW.customer_id);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION notify_catalog_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('billing_changes', '*');
  RETURN NULL;
END
$$;

CREATE TRIGGER subscriptions_changed AFTER INSERT OR UPDATE OR DELETE ON subscriptions
  FOR EACH ROW EXECUTE FUNCTION notify_customer_change();
CREATE TRIGGER subscription_schedules_changed AFTER INSERT OR UPDATE OR DELETE ON subscription_schedules
  FOR EACH ROW EXECUTE FUNCTION notify_customer_change();
CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE ON products
  FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
CREATE TRIGGER prices_changed AFTER INSERT OR UPDATE OR DELETE ON prices
  FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change();
