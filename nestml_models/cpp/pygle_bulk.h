/*
 *  pygle_bulk.h
 *
 *  This file is part of pygle-nest (GPL-2.0-or-later).
 *
 *  Bulk access to the connections of the GLE synapse models, for checkpoints and for setting
 *  weights under MPI: a C interface (loaded with ctypes by pygle_nest/bulk.py) that reads and
 *  writes the states of a rank's own connections as arrays, block by block, where PyNEST would
 *  build one dictionary per connection and refuses lists of values under MPI.
 *
 *  A block is the connections of one synapse model on one thread of this rank, in NEST's order
 *  (local connection ids 0, 1, ...). Per connection a block gives its source and target node ids,
 *  receptor and delay, its states (the model's state_names()) and, for the lagged forward
 *  variant, the values it holds per lane.
 *
 *  NEST delivers the values of a slice at the start of the next one; a checkpoint taken in
 *  between delivers them itself: reading a block with a Delivery runs the connections' deliver()
 *  on copies of them, with the slice's common properties in force, into stand-ins for their
 *  targets, and returns the copies' states. What the copies transmit is added to the array of
 *  pending inputs that the caller passes.
 *
 *  Included by the module's source after the models' headers (rate_channel_node.h: the lane
 *  events), whose template instantiates Bulk for every GLE connection type.
 */
#ifndef PYGLE_BULK_H
#define PYGLE_BULK_H

#include <cmath>
#include <string>
#include <vector>

#include "connection_label.h"
#include "connection_manager.h"
#include "node_manager.h"
#include "eprop_learning_signal_connection.h"
#include "rate_connection_delayed.h"
#include "connector_base.h"
#include "kernel_manager.h"
#include "target_identifier.h"

namespace pygle
{

//! Access to a private member, through the rule that explicit instantiations do not check
//! access ([temp.spec.general]): the kernel's connectors and a connector's connections.
template < typename Tag, typename Tag::type member >
struct Grant
{
  friend typename Tag::type
  get( Tag )
  {
    return member;
  }
};

struct ConnectorsTag
{
  using type = std::vector< std::vector< nest::ConnectorBase* > > nest::ConnectionManager::*;
  friend type get( ConnectorsTag );
};
template struct Grant< ConnectorsTag, &nest::ConnectionManager::connections_ >;

//! A connector's connections; the module's source grants it for every GLE connection type
//! (template struct Grant< ConnectionsTag< T >, &nest::Connector< T >::C_ >).
template < typename ConnectionT >
struct ConnectionsTag
{
  using type = BlockVector< ConnectionT > nest::Connector< ConnectionT >::*;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
  friend type get( ConnectionsTag );
#pragma GCC diagnostic pop
};

//! The weight of NEST's rate connections (rate_connection_delayed,
//! eprop_learning_signal_connection), which have no getter; granted like ConnectionsTag.
template < typename ConnectionT >
struct WeightTag
{
  using type = double ConnectionT::*;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend"
  friend type get( WeightTag );
#pragma GCC diagnostic pop
};

//! The connector of (thread, synapse model) on this rank, or nullptr.
inline nest::ConnectorBase*
connector( size_t tid, nest::synindex syn_id )
{
  auto& all = nest::kernel().connection_manager.*get( ConnectorsTag() );
  if ( tid >= all.size() or syn_id >= all[ tid ].size() )
  {
    return nullptr;
  }
  return all[ tid ][ syn_id ];
}

//! The values a checkpoint delivers: those the nodes sent in the `steps` steps from kernel step
//! `start` (a slice, or the part of it that was simulated), into the inputs pending for the
//! steps after them.
struct Delivery
{
  long start;
  long steps;
  long lanes;
  const long* row_of_node; //!< per node id, its row in the arrays below (-1: not a GLE unit)
  long n_node_ids;         //!< length of row_of_node
  const double* rates;     //!< rows x (steps + 1) x lanes: per row the rate of the step before, then of the steps
  const double* errors;    //!< the same for the error
  double* pending;         //!< rows x ports x ahead x lanes: what the connections transmit is added here
  long ports;
  long ahead;
};

//! Stands in for a connection's target in deliver(): the target's values from the Delivery,
//! its inputs into the pending array.
class StandIn
{
public:
  StandIn( const Delivery& d, long row )
    : d_( d )
    , rates_( d.rates + row * ( d.steps + 1 ) * d.lanes )
    , errors_( d.errors + row * ( d.steps + 1 ) * d.lanes )
    , pending_( d.pending + row * d.ports * d.ahead * d.lanes )
  {
  }

  long
  lanes() const
  {
    return d_.lanes;
  }
  const double*
  rate_at( long lag ) const
  {
    return rates_ + ( lag + 1 ) * d_.lanes;
  }
  const double*
  rate_before( long lag ) const
  {
    return rates_ + lag * d_.lanes;
  }
  const double*
  error_at( long lag ) const
  {
    return errors_ + ( lag + 1 ) * d_.lanes;
  }
  void
  add_input( size_t port, long offset, double weight, const double* values )
  {
    if ( static_cast< long >( port ) >= d_.ports or offset < 0 or offset >= d_.ahead )
    {
      throw std::out_of_range( "pygle_bulk: an input outside the pending array (receptor " + std::to_string( port )
        + ", step " + std::to_string( offset ) + ")" );
    }
    double* in = pending_ + ( port * d_.ahead + offset ) * d_.lanes;
    for ( long b = 0; b < d_.lanes; ++b )
    {
      in[ b ] += weight * values[ b ];
    }
  }

private:
  const Delivery& d_;
  const double* rates_;
  const double* errors_;
  double* pending_;
};

//! What a block hands out per connection; arrays of `count` rows, any of them nullptr to skip.
struct Columns
{
  long* source;
  long* target;
  long* port;
  long* delay; //!< in steps
  double* states; //!< count x state_names().size()
  double* held;   //!< count x lanes (lagged forward variants)
  long lanes;

  //! Row i's node ids, receptor and delay.
  void
  put( long i, long source_id, long target_id, long receptor, long delay_steps ) const
  {
    for ( auto [ column, value ] : { std::pair{ source, source_id }, { target, target_id }, { port, receptor }, { delay, delay_steps } } )
    {
      if ( column )
      {
        column[ i ] = value;
      }
    }
  }
};

class BulkBase
{
public:
  virtual ~BulkBase() = default;
  //! Whether the connector is one of this connection type.
  virtual bool matches( nest::ConnectorBase* c ) const = 0;
  virtual std::vector< std::string > state_names() const = 0;
  virtual bool keeps_values() const = 0;
  virtual void read( size_t tid, nest::ConnectorBase* c, long first, long count, const Columns& out, const Delivery* d ) const = 0;
  virtual void write( size_t tid, nest::ConnectorBase* c, long first, long count, const double* states, const double* held, long lanes ) const = 0;
};

//! The connectors of one connection type.
template < typename ConnectionT >
class BulkOf : public BulkBase
{
public:
  bool
  matches( nest::ConnectorBase* c ) const override
  {
    return dynamic_cast< nest::Connector< ConnectionT >* >( c ) != nullptr;
  }

protected:
  static BlockVector< ConnectionT >&
  connections( nest::ConnectorBase* c )
  {
    return static_cast< nest::Connector< ConnectionT >* >( c )->*get( ConnectionsTag< ConnectionT >() );
  }
};

template < typename ConnectionT >
class Bulk : public BulkOf< ConnectionT >
{
  using BulkOf< ConnectionT >::connections;

public:
  std::vector< std::string >
  state_names() const override
  {
    return ConnectionT::state_names();
  }

  bool
  keeps_values() const override
  {
    return ConnectionT::keeps_values;
  }

  void
  read( size_t tid, nest::ConnectorBase* c, long first, long count, const Columns& out, const Delivery* d ) const override
  {
        const nest::synindex syn_id = c->get_syn_id();
    const size_t n_states = ConnectionT::state_names().size();
    typename ConnectionT::CommonPropertiesType::Slice slice;
    if ( d )
    {
      const auto& cp = static_cast< const typename ConnectionT::CommonPropertiesType& >(
        nest::kernel().model_manager.get_connection_model( syn_id, tid ).get_common_properties() );
      slice = cp.slice_of( d->start, d->steps );
    }
    std::vector< double > values;
    for ( long i = 0; i < count; ++i )
    {
      const long lcid = first + i;
      ConnectionT copy = connections( c )[ lcid ];
      const long source = nest::kernel().connection_manager.get_source_node_id( tid, syn_id, lcid );
      const long target = copy.get_target( tid )->get_node_id();
      if ( d and d->steps > 0 )
      {
        const long source_row = source < d->n_node_ids ? d->row_of_node[ source ] : -1;
        const long target_row = target < d->n_node_ids ? d->row_of_node[ target ] : -1;
        if ( source_row < 0 or target_row < 0 )
        {
          throw std::invalid_argument( "pygle_bulk: a connection between nodes " + std::to_string( source ) + " and "
            + std::to_string( target ) + " whose values were not given (not units of the network)" );
        }
        const double* sent = ( std::is_same_v< typename ConnectionT::EventType, LaneErrorEvent > ? d->errors : d->rates )
          + source_row * ( d->steps + 1 ) * d->lanes;
        StandIn stand_in( *d, target_row );
        copy.deliver( sent, stand_in, slice );
      }
      out.put( i, source, target, copy.get_rport(), copy.get_delay_steps() );
      if ( out.states )
      {
        copy.get_states( out.states + i * n_states );
      }
      if constexpr ( ConnectionT::keeps_values )
      {
        if ( out.held )
        {
          const auto& held = copy.held_values();
          for ( long b = 0; b < out.lanes; ++b )
          {
            // not yet learned from: nothing held (NaN marks it in the checkpoint)
            out.held[ i * out.lanes + b ] = held.empty() ? NAN : held[ b ];
          }
        }
      }
    }
  }

  void
  write( size_t tid, nest::ConnectorBase* c, long first, long count, const double* states, const double* held, long lanes )
    const override
  {
    (void) tid;
        const size_t n_states = ConnectionT::state_names().size();
    for ( long i = 0; i < count * static_cast< long >( n_states ); ++i )
    {
      if ( not std::isfinite( states[ i ] ) )
      {
        throw std::invalid_argument( "pygle_bulk: the state " + ConnectionT::state_names()[ i % n_states ]
          + " of connection " + std::to_string( first + i / n_states ) + " is not finite" );
      }
    }
    for ( long i = 0; i < count; ++i )
    {
      auto& connection = connections( c )[ first + i ];
      connection.set_states( states + i * n_states );
      if constexpr ( ConnectionT::keeps_values )
      {
        if ( held )
        {
          const double* h = held + i * lanes;
          if ( std::isnan( h[ 0 ] ) )
          {
            connection.set_held_values( h, 0 );
          }
          else
          {
            connection.set_held_values( h, lanes );
          }
        }
      }
    }
  }
};

/**
 * NEST's own rate connections between GLE nodes (one lane: the static connections of a network
 * built by pygle_nest), so that a checkpoint delivers their values too, in NEST's order. Their
 * one state is the weight; values of devices are delivered by NEST at once, not here.
 * WeightOwner: the class that declares the weight (ConnectionT, or its base for the _lbl
 * variant); errors: whether it carries the error channel.
 */
template < typename ConnectionT, typename WeightOwner, bool errors >
class NestRateBulk : public BulkOf< ConnectionT >
{
  using BulkOf< ConnectionT >::connections;

public:
  std::vector< std::string >
  state_names() const override
  {
    return { "w" };
  }

  bool
  keeps_values() const override
  {
    return false;
  }

  void
  read( size_t tid, nest::ConnectorBase* c, long first, long count, const Columns& out, const Delivery* d ) const override
  {
        const nest::synindex syn_id = c->get_syn_id();
    for ( long i = 0; i < count; ++i )
    {
      const long lcid = first + i;
      const ConnectionT& connection = connections( c )[ lcid ];
      const long source = nest::kernel().connection_manager.get_source_node_id( tid, syn_id, lcid );
      const long target = connection.get_target( tid )->get_node_id();
      const double w = static_cast< const WeightOwner& >( connection ).*get( WeightTag< WeightOwner >() );
      const size_t port = connection.get_rport();
      const long source_row = d and source < d->n_node_ids ? d->row_of_node[ source ] : -1;
      if ( d and d->steps > 0 and source_row < 0
        and nest::kernel().node_manager.get_node_or_proxy( source, tid )->has_proxies() )
      {
        throw std::invalid_argument( "pygle_bulk: a rate connection of NEST from node " + std::to_string( source )
          + ", which is not a unit of the network: a checkpoint cannot deliver the values it sent last" );
      }
      if ( d and d->steps > 0 and source_row >= 0 )
      {
        const long target_row = target < d->n_node_ids ? d->row_of_node[ target ] : -1;
        if ( target_row < 0 or d->lanes != 1 )
        {
          throw std::invalid_argument( "pygle_bulk: a rate connection of NEST from unit " + std::to_string( source )
            + " to node " + std::to_string( target ) + ", which is not a one-lane unit of the network" );
        }
        // as the node's handler of NEST's events (add_coefficients_): the value of step i, at
        // the delay after it
        const double* sent = ( errors ? d->errors : d->rates )
          + source_row * ( d->steps + 1 );
        StandIn stand_in( *d, target_row );
        const long offset = connection.get_delay_steps() - d->steps;
        for ( long lag = 0; lag < d->steps; ++lag )
        {
          const double value = w * sent[ lag + 1 ];
          stand_in.add_input( port, offset + lag, 1.0, &value );
        }
      }
      out.put( i, source, target, port, connection.get_delay_steps() );
      if ( out.states )
      {
        out.states[ i ] = w;
      }
    }
  }

  void
  write( size_t tid, nest::ConnectorBase* c, long first, long count, const double* states, const double*, long ) const override
  {
    (void) tid;
        for ( long i = 0; i < count; ++i )
    {
      if ( not std::isfinite( states[ i ] ) )
      {
        throw std::invalid_argument( "pygle_bulk: the weight of connection " + std::to_string( first + i ) + " is not finite" );
      }
    }
    for ( long i = 0; i < count; ++i )
    {
      connections( c )[ first + i ].set_weight( states[ i ] );
    }
  }
};

} // namespace pygle

#endif /* PYGLE_BULK_H */
