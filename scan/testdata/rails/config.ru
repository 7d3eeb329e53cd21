# A Rails service for scan/rails_test.go, in one file: rackup -p PORT
# (Debian's ruby-rails, webrick), behind an mTLS front that forwards the
# certificate's subject as X-Client-Subject and sets X-Forwarded-Proto.
# Cookie sessions; the balance is kept in memory.
require "action_controller/railtie"

class FrontApp < Rails::Application
  config.load_defaults 6.1
  config.root = __dir__
  config.eager_load = false
  config.secret_key_base = "forgeproof-test-only-not-a-secret" * 3
  config.hosts.clear
  config.logger = Logger.new(nil)
  config.session_store :cookie_store, key: "_front_session"
end

# Controllers come after initialize!, which gives ActionController::Base
# its default protect_from_forgery (load_defaults 5.2 and later).
FrontApp.initialize!

BALANCE = { n: 1000 }
LOCK = Mutex.new

module Spend
  def spend
    LOCK.synchronize { BALANCE[:n] -= params[:amount].to_i }
    render plain: "sent; balance #{BALANCE[:n]}"
  end

  def cert_user
    request.headers["X-Client-Subject"].presence
  end
end

# protect_from_forgery with: :exception, the default of ActionController::Base.
class PagesController < ActionController::Base
  include Spend

  def index
    tok = form_authenticity_token
    if session[:user]
      render html: %(<form method="post" action="/transfer"><input type="hidden" name="authenticity_token" value="#{tok}"><input name="to" value="bob"><input name="amount" value="1"><button>Send</button></form>).html_safe
    else
      render html: %(<form method="post" action="/login"><input type="hidden" name="authenticity_token" value="#{tok}"><input name="username"><input type="password" name="password"><button>Log in</button></form>).html_safe
    end
  end

  def login
    return head(:forbidden) unless params[:password] == "demo"
    session[:user] = params[:username]
    redirect_to "/", status: :see_other
  end

  def balance
    return head(:unauthorized) unless session[:user]
    render json: { balance: BALANCE[:n] }
  end

  def transfer
    return head(:forbidden) unless session[:user]
    spend
  end
end

# skip_forgery_protection: a webhook-style controller with session auth.
class SkippedController < ActionController::Base
  include Spend
  skip_forgery_protection

  def transfer
    return head(:forbidden) unless session[:user]
    spend
  end
end

# protect_from_forgery with: :null_session, as API controllers often are:
# a failed check empties the session and runs the action anyway.
class ApiController < ActionController::Base
  include Spend
  protect_from_forgery with: :null_session

  def session_transfer
    return head(:unauthorized) unless session[:user]
    spend
  end

  def cert_transfer
    return head(:unauthorized) unless cert_user
    spend
  end
end

# protect_from_forgery unless: -> { request.format.json? }, a common way
# to let an API's JSON through: the format comes from the path's
# extension too (the routes' optional (.:format)), so a cross-site form
# posted to /format/transfer.json skips the check, and its urlencoded
# body still fills params.
class FormatController < ActionController::Base
  include Spend
  protect_from_forgery with: :exception, unless: -> { request.format.json? }

  def transfer
    return head(:unauthorized) unless cert_user
    spend
  end

  def session_transfer
    return head(:forbidden) unless session[:user]
    spend
  end
end

FrontApp.routes.draw do
  root "pages#index"
  post "/login", to: "pages#login"
  get "/api/balance", to: "pages#balance"
  post "/transfer", to: "pages#transfer"
  post "/skip/transfer", to: "skipped#transfer"
  post "/api/session/transfers", to: "api#session_transfer"
  post "/api/cert/transfers", to: "api#cert_transfer"
  put "/api/cert/items", to: "api#cert_transfer"
  post "/format/transfer", to: "format#transfer"
  post "/format/session/transfer", to: "format#session_transfer"
end

run FrontApp
